"""Floor 1, the core: what a plugin (method, dataset) imports. The event-sequence format
(:mod:`.sequences`), datasets (:mod:`.dataset`), the on-disk format (:mod:`.storage`), converters
(:mod:`.convert`), the registries (:mod:`.registry`), the method contract (:mod:`.method`), the
cache (:mod:`.catalog`) and process-memory helpers (:mod:`.process_memory`).

Nothing here imports the harness, a plugin or torch.
"""
