"""Payment registries exchanged with banks and post offices: the layouts
as configuration (:mod:`.registry_format`), the streaming parser and its
checks (:mod:`.registry`), and the files and reports we write
(:mod:`.export`)."""
