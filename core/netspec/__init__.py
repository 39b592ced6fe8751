"""The contract between a network and the rest of the package, shared by every folder of
``core/archs``: the spec (:mod:`.base`) and how the engine runs the network (:mod:`.policy`).

It imports no architecture, so ``core.archs`` (the networks and their specs), ``core.load``
(the registry) and ``core.engine`` (which reads the policy and names no network) all build on it.
"""
