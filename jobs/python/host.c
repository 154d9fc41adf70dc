/* python: the job that hosts a Python asyncio app (docs/python.md). It embeds CPython in
 * the worker, after fork (never in the daemon or a zygote), isolated and without signal
 * handlers of its own, and runs host.py's loop in each loop thread (LV_JOB_OWN_LOOP): the
 * asyncio loop is the loop that beats, so a coroutine that blocks it shows as lag. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "loopvisor/job.h"

#include "host_py.h" /* host_py[]: host.py's text (generated) */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static PyObject *host;          /* host.py's namespace */
static char init_error[1024];   /* why the interpreter could not be made, or "" */

/* ---- _loopvisor: what host.py calls, each with the capsule of its loop's ctx ---- */

static lv_ctx *ctx_of(PyObject *cap)
{
	return PyCapsule_GetPointer(cap, "loopvisor.ctx");
}

#define CTX_OR_NULL(cap, ctx) \
	lv_ctx *ctx = ctx_of(cap); \
	if (!ctx) \
		return NULL

static PyObject *py_pool(PyObject *self, PyObject *cap)
{
	CTX_OR_NULL(cap, ctx);
	(void)self;
	return PyUnicode_FromString(lv_pool(ctx));
}

static PyObject *py_index(PyObject *self, PyObject *cap)
{
	CTX_OR_NULL(cap, ctx);
	(void)self;
	return PyLong_FromUnsignedLong(lv_index(ctx));
}

static PyObject *py_loop_index(PyObject *self, PyObject *cap)
{
	CTX_OR_NULL(cap, ctx);
	(void)self;
	return PyLong_FromUnsignedLong(lv_loop(ctx));
}

static PyObject *py_params(PyObject *self, PyObject *cap)
{
	char *text;
	PyObject *s;

	CTX_OR_NULL(cap, ctx);
	(void)self;
	if (!(text = json_dumps(lv_params(ctx), JSON_COMPACT)))
		return PyErr_NoMemory();
	s = PyUnicode_FromString(text);
	free(text);
	return s;
}

static PyObject *py_listen_fds(PyObject *self, PyObject *cap)
{
	PyObject *list;

	CTX_OR_NULL(cap, ctx);
	(void)self;
	if (!(list = PyList_New(lv_listen_count(ctx))))
		return NULL;
	for (unsigned i = 0; i < lv_listen_count(ctx); i++)
		PyList_SET_ITEM(list, i, PyLong_FromLong(lv_listen_fd(ctx, i)));
	return list;
}

static PyObject *py_ready(PyObject *self, PyObject *cap)
{
	CTX_OR_NULL(cap, ctx);
	(void)self;
	lv_ready(ctx);
	lv_pump(ctx); /* sent now, not with the next heartbeat (a stop it meets is seen by the
	               * asyncio loop's reader all the same) */
	Py_RETURN_NONE;
}

static PyObject *py_counter(PyObject *self, PyObject *args)
{
	PyObject *cap;
	const char *name;
	long long delta;
	lv_ctx *ctx;

	(void)self;
	if (!PyArg_ParseTuple(args, "OsL", &cap, &name, &delta) || !(ctx = ctx_of(cap)))
		return NULL;
	lv_counter_add(ctx, name, delta);
	Py_RETURN_NONE;
}

static PyObject *py_log(PyObject *self, PyObject *args)
{
	PyObject *cap;
	const char *msg;
	int level;
	lv_ctx *ctx;

	(void)self;
	if (!PyArg_ParseTuple(args, "Ois", &cap, &level, &msg) || !(ctx = ctx_of(cap)))
		return NULL;
	lv_log(ctx, level, "%s", msg);
	lv_pump(ctx); /* as for ready */
	Py_RETURN_NONE;
}

static PyObject *py_wake_fd(PyObject *self, PyObject *cap)
{
	CTX_OR_NULL(cap, ctx);
	(void)self;
	return PyLong_FromLong(lv_wake_fd(ctx));
}

static PyObject *py_pump(PyObject *self, PyObject *cap)
{
	CTX_OR_NULL(cap, ctx);
	(void)self;
	return PyBool_FromLong(lv_pump(ctx));
}

static PyObject *py_beat(PyObject *self, PyObject *cap)
{
	CTX_OR_NULL(cap, ctx);
	(void)self;
	lv_beat(ctx);
	Py_RETURN_NONE;
}

static PyObject *py_beat_due(PyObject *self, PyObject *cap)
{
	CTX_OR_NULL(cap, ctx);
	(void)self;
	return PyLong_FromUnsignedLongLong(lv_beat_due(ctx));
}

static PyMethodDef methods[] = {
	{ "pool", py_pool, METH_O, NULL },           { "index", py_index, METH_O, NULL },
	{ "loop_index", py_loop_index, METH_O, NULL }, { "params", py_params, METH_O, NULL },
	{ "listen_fds", py_listen_fds, METH_O, NULL }, { "ready", py_ready, METH_O, NULL },
	{ "counter", py_counter, METH_VARARGS, NULL }, { "log", py_log, METH_VARARGS, NULL },
	{ "wake_fd", py_wake_fd, METH_O, NULL },     { "pump", py_pump, METH_O, NULL },
	{ "beat", py_beat, METH_O, NULL },           { "beat_due", py_beat_due, METH_O, NULL },
	{ NULL, NULL, 0, NULL },
};

static struct PyModuleDef module = { PyModuleDef_HEAD_INIT, "_loopvisor", NULL, -1, methods,
	                                 NULL, NULL, NULL, NULL };

static PyObject *init_module(void)
{
	return PyModule_Create(&module);
}

/* ---- the interpreter, once per process ---- */

/* The Python exception now, as one line ("ModuleNotFoundError: No module named 'app'"),
 * its traceback printed to stderr (the worker's captured output). */
static void describe_error(char *out, size_t len)
{
	PyObject *type, *value, *tb, *text = NULL;

	PyErr_Fetch(&type, &value, &tb);
	PyErr_NormalizeException(&type, &value, &tb);
	if (value && (text = PyObject_Str(value)))
		snprintf(out, len, "%s: %s", type ? ((PyTypeObject *)type)->tp_name : "error",
		         PyUnicode_AsUTF8(text));
	else
		snprintf(out, len, "%s", type ? ((PyTypeObject *)type)->tp_name : "unknown error");
	Py_XDECREF(text);
	PyErr_Restore(type, value, tb);
	PyErr_Print();
}

static void init_interpreter(void)
{
	PyObject *code = NULL, *done = NULL;
	PyConfig config;
	PyStatus status;
	Dl_info info;

	/* extension modules (_asyncio, _socket...) expect libpython's symbols global, as they
	 * are in the python3 program: this module was loaded RTLD_LOCAL */
	if (!dladdr((void *)Py_InitializeFromConfig, &info) ||
	    !dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD)) {
		snprintf(init_error, sizeof init_error, "cannot make libpython's symbols global: %s",
		         dlerror());
		return;
	}
	if (PyImport_AppendInittab("_loopvisor", init_module) < 0) {
		snprintf(init_error, sizeof init_error, "PyImport_AppendInittab failed");
		return;
	}
	/* isolated: no PYTHON* variables, no user site; signals stay loopvisor's */
	PyConfig_InitIsolatedConfig(&config);
	config.install_signal_handlers = 0;
	status = PyConfig_SetBytesString(&config, &config.program_name, "loopvisor-python");
	if (!PyStatus_Exception(status))
		status = Py_InitializeFromConfig(&config);
	PyConfig_Clear(&config);
	if (PyStatus_Exception(status)) {
		snprintf(init_error, sizeof init_error, "Python: %s", status.err_msg ? status.err_msg
		                                                                      : "cannot start");
		return;
	}
	/* compiled under a name tracebacks can show: "loopvisor/host.py", line N, in run */
	if (!(host = PyDict_New()) ||
	    PyDict_SetItemString(host, "__builtins__", PyEval_GetBuiltins()) < 0 ||
	    !(code = Py_CompileString(host_py, "loopvisor/host.py", Py_file_input)) ||
	    !(done = PyEval_EvalCode(code, host, host)) ||
	    !PyObject_CallNoArgs(PyDict_GetItemString(host, "setup")))
		describe_error(init_error, sizeof init_error);
	Py_XDECREF(code);
	Py_XDECREF(done);
	PyEval_SaveThread(); /* every loop thread takes the GIL as it needs it */
}

static int start(lv_ctx *ctx)
{
	PyGILState_STATE gil;
	PyObject *main;
	char why[1024];

	pthread_once(&once, init_interpreter);
	if (init_error[0]) {
		lv_fail(ctx, "%s", init_error);
		return -1;
	}
	gil = PyGILState_Ensure();
	if (!(main = PyObject_CallNoArgs(PyDict_GetItemString(host, "load")))) {
		describe_error(why, sizeof why);
		lv_fail(ctx, "%s", why);
	}
	lv_set_data(ctx, main);
	PyGILState_Release(gil);
	return main ? 0 : -1;
}

static int run(lv_ctx *ctx)
{
	PyGILState_STATE gil = PyGILState_Ensure();
	PyObject *cap = PyCapsule_New(ctx, "loopvisor.ctx", NULL), *rc = NULL;
	int code = 1;

	if (cap)
		rc = PyObject_CallFunctionObjArgs(PyDict_GetItemString(host, "run"), cap,
		                                  (PyObject *)lv_data(ctx), NULL);
	if (rc)
		code = (int)PyLong_AsLong(rc);
	else
		PyErr_Print();
	Py_XDECREF(rc);
	Py_XDECREF(cap);
	PyGILState_Release(gil);
	return code;
}

__attribute__((visibility("default"))) const struct lv_job loopvisor_job = {
	.abi_version = LV_JOB_ABI_VERSION, .name = "python",
	.flags = LV_JOB_READY_LATER | LV_JOB_OWN_LOOP, .start = start, .run = run,
};
