"""Media of posts as evidence: fetch (fetch.py), content-addressed archive (archive.py), perceptual hashes
(hashing.py), near-neighbour index (index.py), matching and joining incidents (match.py, join.py), the job (job.py).
"""
