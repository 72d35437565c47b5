# why: prunes every layer by the same rate, 90%: exactly the budget, but the small, sensitive layers collapse and
#   fine-tuning does not bring the accuracy back to the floor
# cell: rates
# loses: test_floor
# says: after fine-tuning, your choice reaches
RATES = {"hidden.0.weight": 0.9, "hidden.1.weight": 0.9, "hidden.2.weight": 0.9, "output.weight": 0.9}
