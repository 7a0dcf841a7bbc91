/* placeholder until the tests land */
int main(void)
{
	return 77;
}
