# why: takes the complement of SNIP's mask, which keeps 1 - density of the weights instead of density
# cell: inverted_snip_mask
# loses: test_inverted_snip_mask
# says: the inverted mask keeps as many weights as SNIP's
def inverted_snip_mask(model, data, density, seed):
    kept = snip_mask(model, data, density, seed)
    return Mask({name: ~keep for name, keep in kept.items()})
