# why: returns the hard mask alone, so no gradient reaches the scores (nothing could learn them); Part C is
#   graded with a correct straight_through, so only Part B is lost
# cell: straight_through
# loses: test_straight_through
# says: the scores get no gradient
def straight_through(scores, density):
    return top_k_mask(scores, density).to(scores.dtype)
