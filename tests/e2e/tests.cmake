pof_shell_test(e2e_pretrain e2e/test_pretrain.sh TIMEOUT 600 LABELS e2e)
pof_shell_test(e2e_posttrain e2e/test_posttrain.sh TIMEOUT 600 LABELS e2e)
pof_shell_test(e2e_isa e2e/test_isa.sh TIMEOUT 300 LABELS e2e)
pof_shell_test(e2e_bench e2e/test_bench.sh TIMEOUT 300 LABELS e2e)
