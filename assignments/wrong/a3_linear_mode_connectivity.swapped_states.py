# why: passes the two states to interpolate in the wrong order, so the path runs from state_b to state_a
# cell: interpolation_errors
# loses: test_interpolation_errors
# says: your errors run from state_b to state_a
def interpolation_errors(model, state_a, state_b, x, y, points, interpolate):
    errors = []
    for alpha in np.linspace(0.0, 1.0, points):
        model.load_state_dict(interpolate(state_b, state_a, float(alpha)))
        errors.append(1.0 - evaluate(model, x, y)[1])
    return errors
