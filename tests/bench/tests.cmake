pof_shell_test(peer_bench bench/test_peer_bench.sh TIMEOUT 120)
