# why: times the warm-up calls too and returns the mean, so one slow first call or one interrupted call moves it
# cell: median_latency
# loses: test_median_latency
# says: the first (warm-up) call takes 0.5 s and is not timed
def median_latency(fn, repeats=20, warmup=3):
    start = time.perf_counter()
    for _ in range(warmup + repeats):
        fn()
    return (time.perf_counter() - start) / (warmup + repeats)
