# why: returns the accuracy evaluate gives instead of the error 1 - accuracy
# cell: interpolation_errors
# loses: test_interpolation_errors
# says: these are accuracies: the error is 1 - accuracy
def interpolation_errors(model, state_a, state_b, x, y, points, interpolate):
    accuracies = []
    for alpha in np.linspace(0.0, 1.0, points):
        model.load_state_dict(interpolate(state_a, state_b, float(alpha)))
        accuracies.append(evaluate(model, x, y)[1])
    return accuracies
