#!/bin/bash
# bench/peer_bench.py on a tiny WRN: PyTorch-only run, a pof that fails, a pof that answers
# (a stand-in script printing the JSON line pof bench prints), bad arguments.
pof="$1"; src="$2"
. "$src/tests/shell/lib.sh"
workdir peer-bench
pb() { /usr/bin/python3 "$src/bench/peer_bench.py" --depth 10 --width 1 --input 3x8x8 --batch 4 \
         --steps 3 --warmup 1 --threads 1 "$@"; }

expect_rc 0 "--help" /usr/bin/python3 "$src/bench/peer_bench.py" --help
expect_out "--skip-pof" "help lists --skip-pof"
expect_rc 0 "PyTorch only, train step" pb --skip-pof --json skip.json
expect_out "PyTorch nchw" "NCHW timed"
expect_out "PyTorch channels_last" "channels_last timed"
expect_out "^images/s +[0-9.]+ +- +-" "table row without pof"
/usr/bin/python3 -c "import json,sys; r=json.load(open('skip.json')); sys.exit(not (r['pof'] is None and r['pytorch']['images_per_s'] > 0 and r['pytorch']['peak_rss_mb'] > 0))" \
  && ok "JSON written (PyTorch only)" || bad "JSON written (PyTorch only)"
expect_rc 0 "pof step, bf16" pb --skip-pof --step pof --precision bf16
expect_rc 0 "forward step" pb --skip-pof --step forward

# A pof that fails: clear message, PyTorch result still printed, status 1.
printf '#!/bin/bash\necho "pof: error: unknown command '"'"'bench'"'"'" >&2\nexit 1\n' > failpof
chmod +x failpof
expect_rc 1 "failing pof gives status 1" pb --pof ./failpof
expect_out "pof bench failed: pof bench exited with status 1" "failure reported"
expect_out "unknown command 'bench'" "pof's own message shown"
expect_out "^images/s +[0-9.]+ +- +-" "PyTorch result printed despite the failure"
expect_rc 1 "missing pof binary" pb --pof ./nonexistent
expect_out "not found or not executable" "missing binary named"
printf '#!/bin/bash\necho "no json here"\n' > badpof; chmod +x badpof
expect_rc 1 "pof without JSON" pb --pof ./badpof
expect_out "last line is not JSON" "non-JSON output reported"

# A pof that answers: arguments passed through, ratio computed from its JSON.
cat > fakepof <<'EOS'
#!/bin/bash
echo "$@" > args.txt; echo "OMP_NUM_THREADS=$OMP_NUM_THREADS" >> args.txt
echo "some log line"
echo '{"model":"WRN-10-1","batch":4,"threads":1,"ranks":1,"step":"train","ms_per_step":2.0,"images_per_s":2000.0,"peak_rss_mb":50.0}'
EOS
chmod +x fakepof
expect_rc 0 "answering pof" pb --pof ./fakepof --json both.json
grep -q -- "bench -model_depth 10 -model_width 1 -bench_input 3x8x8 -model_classes 10 -opt_batch 4 -bench_step train -bench_steps 3 -precision fp32" args.txt \
  && ok "pof arguments" || { bad "pof arguments"; cat args.txt; }
grep -q "OMP_NUM_THREADS=1" args.txt && ok "OMP_NUM_THREADS passed" || bad "OMP_NUM_THREADS passed"
expect_out "^images/s +[0-9.]+ +2000.0 +[0-9.]+" "pof images/s and ratio in the table"
expect_out "^peak RSS \(MB\) +[0-9]+ +50 " "pof peak RSS in the table"
/usr/bin/python3 -c "import json,sys; r=json.load(open('both.json')); sys.exit(not abs(r['ratio_images_per_s'] - 2000.0 / r['pytorch']['images_per_s']) < 1e-9)" \
  && ok "ratio in JSON" || bad "ratio in JSON"

# bench/roofline.py on that result: the FLOP count of WRN-10-1 at 3x8x8 counted by hand (forward
# multiply-adds: conv0 27648; stage 1 conv1+conv2 2x147456; stage 2 conv1 294912, conv2 147456,
# shortcut 8192; stage 3 conv1 294912, conv2 147456, shortcut 8192: 1223680; training step
# 2 x (3 x 1223680 - 27648) = 7286784 FLOPs, 14.6 GFLOP/s at 2000 images/s), and the fraction of a given peak.
/usr/bin/python3 -c "import json; json.dump({'train_fp32': json.load(open('both.json'))}, open('table.json', 'w'))"
echo '{"kernel":"fp32_avx512","supported":true,"threads":1,"gflops":100.0,"gflops_per_thread":100.0}' > peak.jsonl
expect_rc 0 "roofline" /usr/bin/python3 "$src/bench/roofline.py" table.json peak.jsonl
expect_out "^\| train_fp32 \| 0\.007 \| [0-9.]+ \| [0-9]+ \| 2000\.0 \| 15 \| 0\.15 of fp32_avx512 \|" "roofline: FLOPs per image and fraction of the peak"
expect_rc nonzero "roofline without peaks" /usr/bin/python3 "$src/bench/roofline.py" table.json /dev/null

expect_rc 0 "extra pof options" pb --pof ./fakepof --pof-args="-model_recompute -bench_warmup 2"
grep -q -- "-precision fp32 -model_recompute -bench_warmup 2$" args.txt && ok "--pof-args appended to pof's arguments" || { bad "--pof-args"; cat args.txt; }

expect_rc nonzero "bad input shape" pb --skip-pof --input 3x8
expect_out "CxHxW" "bad input named"
expect_rc nonzero "bad depth" pb --skip-pof --depth 12
expect_out "6n\+4" "bad depth named"
finish
