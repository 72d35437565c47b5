# why: draws each position with probability = the layer's density (Bernoulli), so the kept counts match only on average
# cell: random_mask_like
# loses: test_random_mask_like
# says: matches the density only on average
def random_mask_like(reference, generator):
    return Mask({name: torch.rand(keep.shape, generator=generator) < keep.float().mean()
                 for name, keep in reference.items()})
