# why: fills in the latencies from the MACs (10% of the MACs, so 10% of the time) instead of measuring: the masked
#   network cannot be ten times faster with dense kernels
# cell: my_numbers
# loses: test_my_numbers
# says: masking alone changes the latency little
MY_NUMBERS = {"dense": {"macs": 1_099_776, "ms": 0.1}, "masked": {"macs": 109_978, "ms": 0.01},
              "smaller": {"macs": 78_336, "ms": 0.0071}}
