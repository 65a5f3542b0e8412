"""polsearch: congressional hearings -> speaker-labelled, word-timed, searchable transcripts (Dagster)."""
