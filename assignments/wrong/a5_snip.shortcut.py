# why: calls the library's snip_scores (the reference the hidden tests compare with) instead of writing
#   the sensitivity: every score is right, and the part must still score 0
# cell: snip_scores
# loses: test_snip_scores
# says: Part A scores 0: your snip_scores calls lthlib.methods.pai.snip_scores
def snip_scores(model, x, y):
    import lthlib.methods.pai

    return lthlib.methods.pai.snip_scores(model, x, y)
