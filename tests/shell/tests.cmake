pof_shell_test(cli shell/test_cli.sh TIMEOUT 120 LABELS fast)
