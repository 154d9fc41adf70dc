/* nosymbol: a shared object that is no job module (no loopvisor_job), to be refused. */
int lv_test_not_a_job(void);

int lv_test_not_a_job(void)
{
	return 42;
}
