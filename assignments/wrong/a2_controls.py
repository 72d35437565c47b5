# why: draws the "fresh" weights as the initial weights of seed + 1 (another run's ticket, not an independent stream)
# cell: reinit_start
# loses: test_reinit_start
# says: initial weights of seed + 1
def reinit_start(settings, data, mask):
    fresh = model_for(settings.replace(seed=settings.seed + 1), data).state_dict()
    return {name: (w * mask[name] if name in mask else w.clone()) for name, w in fresh.items()}
