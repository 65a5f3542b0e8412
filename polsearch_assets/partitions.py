import dagster as dg

# One partition per hearing; keys come from polsearch_assets.hearing_keys (yt-<id>, url-<hash>, file-<hash>).
hearings_partitions = dg.DynamicPartitionsDefinition(name="hearings")
