# why: rounds with Python's round(), which sends halves to even (2.5 -> 2), not half up: passes the visible tests, fails the hidden ones
# cell: remaining_counts
# loses: test_remaining_counts
# says: Python's round() rounds halves to even
def remaining_counts(sizes, rates, rounds):
    counts = dict(sizes)
    for _ in range(rounds):
        for name, rate in rates.items():
            counts[name] -= round(rate * counts[name])
    return counts
