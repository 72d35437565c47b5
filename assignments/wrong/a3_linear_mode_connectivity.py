# why: subtracts the smallest error on the path instead of the mean of the two endpoints
# cell: error_barrier
# loses: test_error_barrier
# says: the largest error 0.3 minus the mean of the endpoints
def error_barrier(errors):
    errors = [float(e) for e in errors]
    return max(errors) - min(errors)
