"""Every write of the studies app, by sub-domain.

- `studies`: a study created, edited, opened, paused or closed;
- `sessions`: a viewer's session from consent to its outcome (and withdrawal), each ad it
  watches as an upload of that ad;
- `frames`: captured frames become the photos of that upload (idempotent per frame), and the
  camera check;
- `quality`: a session's quality verdict.
"""
