"""The camera check: a few frames through the server's own detector, nothing stored; it says
"we can see your face", too dark, or no face."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from PIL import Image

from campaigns.models import ReactionImage
from tests.studies.support import Viewer, jpeg, model_active, study_build
from tests.video_support import face_scene

pytestmark = pytest.mark.django_db


def _check(viewer: Viewer, frames: list[bytes]) -> dict[str, object]:
    response = viewer.client.post(
        viewer.url("capture_check"),
        {"frame": [ContentFile(data, name=f"c{i}.jpg") for i, data in enumerate(frames)]},
        headers={"X-Capture-Token": viewer.token},
    )
    assert response.status_code == 200, response.content
    return dict(response.json())


def _scene_jpeg() -> bytes:
    from tests.shared_data import fer_test_faces

    (face, _), *_ = fer_test_faces(1)
    buffer = io.BytesIO()
    Image.fromarray(face_scene(face, seed=1, size=(320, 240))).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_a_face_passes_darkness_and_no_face_say_what_to_fix():
    model_active()
    viewer = Viewer(study_build())
    viewer.start(pid="c-1")
    face = _check(viewer, [_scene_jpeg()] * 3)
    assert face["ok"] is True and face["message"] == "We can see your face. You are ready."
    dark = _check(viewer, [jpeg(0, size=(320, 240), level=8)] * 3)
    assert (dark["ok"], dark["problem"]) == (False, "dark")
    empty = _check(viewer, [jpeg(0, size=(320, 240), level=150)] * 3)
    assert (empty["ok"], empty["problem"]) == (False, "no_face")
    assert not ReactionImage.objects.exists()


def test_checks_are_limited_per_session(settings):
    model_active()
    viewer = Viewer(study_build())
    viewer.start(pid="c-2")
    settings.CAPTURE_MAX_CHECKS = 1
    _check(viewer, [jpeg(0, level=150)])
    response = viewer.client.post(
        viewer.url("capture_check"),
        {"frame": [ContentFile(jpeg(0, level=150), name="c.jpg")]},
        headers={"X-Capture-Token": viewer.token},
    )
    assert response.status_code == 429
