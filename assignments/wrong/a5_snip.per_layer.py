# why: keeps the top density of each layer separately instead of ranking all layers together
# cell: keep_top_global
# loses: test_keep_top_global
# says: not the top 40% of each layer
def keep_top_global(scores, density):
    out = {}
    for name, s in scores.items():
        flat = s.flatten()
        n_keep = int(density * flat.numel() + 0.5 + 1e-9)
        keep = torch.ones(flat.numel(), dtype=torch.bool)
        keep[torch.sort(flat, stable=True).indices[: flat.numel() - n_keep]] = False
        out[name] = keep.reshape(s.shape)
    return Mask(out)
