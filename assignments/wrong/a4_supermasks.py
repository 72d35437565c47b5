# why: keeps the largest final weights and forgets the same-sign condition ("large final" instead of "large final, same sign")
# cell: zhou_supermask
# loses: test_zhou_supermask
# says: but its sign flipped
def zhou_supermask(init_state, final_state, layers, density):
    out = {}
    for name in layers:
        score = final_state[name].abs().flatten()
        n_remove = int((1 - density) * score.numel() + 0.5 + 1e-9)
        keep = torch.ones(score.numel(), dtype=torch.bool)
        keep[torch.sort(score, stable=True).indices[:n_remove]] = False
        out[name] = keep.reshape(init_state[name].shape)
    return Mask(out)
