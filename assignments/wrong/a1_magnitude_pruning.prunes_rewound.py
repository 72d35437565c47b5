# why: prunes each round from the rewound start weights instead of the weights trained in the previous round
# cell: imp_with_rewinding
# loses: test_imp_with_rewinding
# says: round 2 prunes the weights *trained* in round 1
def imp_with_rewinding(dense_final, rewind_state, first_mask, prune, train_from, rounds):
    out, mask, weights = [], first_mask, dense_final
    for _ in range(rounds):
        mask = prune(weights, mask)
        start = {name: (w * mask[name] if name in mask else w.clone()) for name, w in rewind_state.items()}
        trained = train_from(start, mask)
        out.append((mask, start, trained))
        weights = start
    return out
