"""Local runtime: the embedded emulator's lifecycle and the runners that play AWS's data plane locally.

The emulator keeps the control plane (resources, job records, statuses); these runners do what AWS would
run, honouring AWS's own contracts so the same code runs in both places.
"""
