# why: calls the library's error_barrier (the reference the hidden tests compare with) instead of
#   writing it: every value is right, and the part must still score 0
# cell: error_barrier
# loses: test_error_barrier
# says: Part B scores 0: your error_barrier calls lthlib.experiments.lmc.error_barrier
def error_barrier(errors):
    from lthlib.experiments.lmc import error_barrier as barrier

    return barrier(list(errors))
