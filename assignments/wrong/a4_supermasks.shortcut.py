# why: calls the library's mask_by_criterion (the reference the hidden tests compare with) instead of
#   writing Zhou et al.'s criterion: every mask is right, and the part must still score 0
# cell: zhou_supermask
# loses: test_zhou_supermask
# says: Part D scores 0: your zhou_supermask calls lthlib.methods.supermask.mask_by_criterion
def zhou_supermask(init_state, final_state, layers, density):
    from lthlib.methods.supermask import mask_by_criterion

    return mask_by_criterion("large_final_same_sign", init_state, final_state, list(layers), density)
