# Bad input to every program in apps/ (issue 22, item 6): one clear line
# naming the problem and exit code 2 for bad usage, 1 for a failure the run
# met — never an abort ("terminate called", a core dump). --help (and -h)
# prints every option with its default, exit code 0.
#
# Included from tests/CMakeLists.txt inside if(TARGET sourcery_load), where
# load_harness_refuses() and ${cfg} are defined. None of these tests needs a
# server: the PostgreSQL ones name a port where none listens.

# program_answers(name program exit-code message args...): test
# bad_input_<name> runs `program args`; it passes when the exit code is
# `exit-code` and the output (stdout and stderr) matches the extended regular
# expression `message`, and fails on an abort whatever the exit code. The
# shell checks both (ctest's PASS_REGULAR_EXPRESSION would ignore the exit
# code).
function(program_answers name program code message)
  if(NOT TARGET ${program})
    return()
  endif()
  add_test(NAME bad_input_${name}
    COMMAND sh -c "code=$1; message=$2; shift 2; out=$(\"$@\" 2>&1); got=$?; printf '%s\\n' \"$out\"; echo \"exit code $got (expected $code)\"; test $got -eq $code && printf '%s\\n' \"$out\" | grep -Eq -- \"$message\""
            sh ${code} "${message}" $<TARGET_FILE:${program}> ${ARGN})
  set_tests_properties(bad_input_${name} PROPERTIES TIMEOUT 60
    FAIL_REGULAR_EXPRESSION "terminate called|Aborted|core dumped|Segmentation fault"
    ENVIRONMENT "UBSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/ubsan.supp:halt_on_error=1:print_stacktrace=1;ASAN_OPTIONS=detect_leaks=1")
endfunction()

# Each benchmark: --help and -h list the options with defaults; an unknown
# option, a malformed value, an out-of-range value and a stray argument are
# refused with exit code 2, naming them. `option` is one of its count options.
function(benchmark_refuses_bad_usage program option)
  program_answers(${program}_help ${program} 0 "--${option}=N .*default" --help)
  program_answers(${program}_h ${program} 0 "--threads=N .*default" -h)
  program_answers(${program}_unknown_option ${program} 2
    "^${program}: unknown option '--bogus' \\(--help lists the options\\)$" --bogus=1)
  program_answers(${program}_malformed ${program} 2
    "^${program}: --${option}: expected a whole number, got 'many'$" --${option}=many)
  program_answers(${program}_negative ${program} 2
    "^${program}: --${option}: must be at least 1 and at most [0-9,]+, got -5$" --${option}=-5)
  program_answers(${program}_huge ${program} 2
    "^${program}: --${option}: must be at least 1 and at most [0-9,]+, got 99999999999999999999999$"
    --${option}=99999999999999999999999)
  program_answers(${program}_missing_value ${program} 2 "^${program}: --${option}: needs a value" --${option})
  program_answers(${program}_stray_argument ${program} 2 "^${program}: unexpected argument 'now'" now)
endfunction()
benchmark_refuses_bad_usage(bench_store loads)
benchmark_refuses_bad_usage(bench_subscriptions loads)
benchmark_refuses_bad_usage(bench_outbox loads)
benchmark_refuses_bad_usage(bench_encryption loads)
benchmark_refuses_bad_usage(bench_upcasting events)
benchmark_refuses_bad_usage(bench_rocksdb loads)

# The scheduler options every in-memory benchmark shares (the runtime threw
# past main for an unknown policy: terminate called).
program_answers(bench_store_policy bench_store 2
  "^bench_store: --policy: must be sharing or stealing, got 'fastest'$" --policy=fastest)
program_answers(bench_outbox_threads bench_outbox 2
  "^bench_outbox: --threads: must be at least 0 and at most 1,024, got 100000$" --threads=100000)
program_answers(bench_subscriptions_list bench_subscriptions 2
  "^bench_subscriptions: --fanout-batches: expected whole numbers separated by commas, got '1,,100'$"
  --fanout-batches=1,,100)
program_answers(bench_store_fraction bench_store 2
  "^bench_store: --window: expected a whole number, got '2.5'$" --window=2.5)

# bench_rocksdb: words and folders. A missing or unwritable folder is a
# failure of the run (exit code 1) — it threw std::runtime_error past main.
program_answers(bench_rocksdb_durability bench_rocksdb 2
  "^bench_rocksdb: --durability: must be full or normal, got 'sometimes'$" --durability=sometimes)
program_answers(bench_rocksdb_folder_missing bench_rocksdb 1
  "^bench_rocksdb: --folder: '/does/not/exist' does not exist$" --folder=/does/not/exist)
program_answers(bench_rocksdb_folder_is_a_file bench_rocksdb 1
  "^bench_rocksdb: --folder: '/etc/passwd' is not a folder$" --folder=/etc/passwd)
program_answers(bench_rocksdb_folder_unwritable bench_rocksdb 1
  "^bench_rocksdb: --folder: cannot make a store in '/proc': " --folder=/proc)

# bench_postgres: options like the others; an unreachable server is one line
# and exit code 1 (it printed libpq's two lines and exited, and threw past
# main from its nodes).
program_answers(bench_postgres_help bench_postgres 0 "--schema=TEXT .*default 'bench'" --help)
program_answers(bench_postgres_unknown_option bench_postgres 2
  "^bench_postgres: unknown option '--bogus' \\(--help lists the options\\)$" --bogus=1)
program_answers(bench_postgres_malformed bench_postgres 2
  "^bench_postgres: --events: expected a whole number, got 'lots'$" --events=lots)
program_answers(bench_postgres_out_of_range bench_postgres 2
  "^bench_postgres: --threads: must be at least 1 and at most 4,096, got 0$" --threads=0)
program_answers(bench_postgres_schema bench_postgres 2
  "^bench_postgres: --schema: must be a lower-case SQL name .*got 'bench\\.events-2'$" --schema=bench.events-2)
program_answers(bench_postgres_unreachable bench_postgres 1
  "^bench_postgres: cannot connect to PostgreSQL at 'host=127.0.0.1 port=1 connect_timeout=10': .*Connection refused"
  "--conninfo=host=127.0.0.1 port=1 connect_timeout=10")

# es_example takes no options, and says so.
program_answers(es_example_help es_example 0 "usage: es_example" --help)
program_answers(es_example_unknown_option es_example 2
  "^es_example: unknown option '--bogus' \\(es_example takes no options\\)$" --bogus)

# The harness: --help lists each setting with the chosen scenario's value;
# failures the run meets are exit code 1, one line.
program_answers(load_harness_help sourcery_load 0
  "--harness.writers=V +concurrent writer threads \\[default [0-9]+\\]" ${cfg} --help)
program_answers(load_harness_child_flag sourcery_load 2
  "^sourcery_load: cannot understand argument '--crash-child=x': expected a whole number" ${cfg} --crash-child=x)
program_answers(load_harness_report_unwritable sourcery_load 1
  "^sourcery_load: harness.report-svg: cannot make the folder of '/proc/sourcery/report.svg'"
  ${cfg} --harness.report-json=${CMAKE_CURRENT_BINARY_DIR}/load/unwritable.json
  --harness.report-svg=/proc/sourcery/report.svg)
if(TARGET sourcery_storage_postgres)
  program_answers(load_harness_postgres_unreachable sourcery_load 1
    "^sourcery_load: storage.conninfo: cannot use PostgreSQL at 'host=127.0.0.1 port=1 connect_timeout=10': .*Connection refused"
    ${cfg} --storage.engine=postgres "--storage.conninfo=host=127.0.0.1 port=1 connect_timeout=10")
endif()
