"""The analysis' writes.

- `tallies`: the face tallies kept in step with the faces, and the timeline rollups rebuilt
  from them.
"""
