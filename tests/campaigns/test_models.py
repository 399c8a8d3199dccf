import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from campaigns.models import Campaign, Emotion, Face, Membership
from ml import CLASSES
from tests import factories

pytestmark = pytest.mark.django_db


def test_emotion_choices_and_probability_columns_follow_the_canonical_class_order():
    # given the canonical order of ml
    # when the database model lists its labels and probability columns
    # then both follow it exactly
    assert tuple(Emotion.values) == CLASSES
    columns = [f.column for f in Face._meta.fields if f.column.startswith("prob_")]
    assert columns == [f"prob_{name}" for name in CLASSES]


def test_face_probabilities_come_back_in_class_order():
    # given a stored face
    team = factories.team_create()
    ad = factories.ad_create(campaign=factories.campaign_create(team=team))
    image = factories.image_create(batch=factories.batch_create(ad=ad))
    face = factories.face_create(
        image=image, model_version=factories.model_version_create(), label="sad"
    )
    # when its probabilities are read back
    probabilities = Face.objects.get(pk=face.pk).probabilities
    # then they are keyed by class in order, and the label is the largest
    assert list(probabilities) == list(CLASSES)
    assert max(probabilities, key=lambda name: probabilities[name]) == "sad"


@pytest.mark.parametrize(
    "change",
    [
        {"label": "bored"},
        {"w": 0},
        {"prob_happy": 1.5},
        {"prob_fear": -0.1},
    ],
)
def test_database_rejects_an_impossible_face(change):
    # given a valid face
    team = factories.team_create()
    ad = factories.ad_create(campaign=factories.campaign_create(team=team))
    image = factories.image_create(batch=factories.batch_create(ad=ad))
    face = factories.face_create(image=image, model_version=factories.model_version_create())
    # when one field is set to an impossible value and saved
    # then the database refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        Face.objects.filter(pk=face.pk).update(**change)


def test_campaign_cannot_end_before_it_starts():
    # given a team
    team = factories.team_create()
    # when a campaign row ends before it starts
    # then the database refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign.objects.create(
            team=team, name="Backwards", starts_on=dt.date(2025, 5, 2), ends_on=dt.date(2025, 5, 1)
        )


def test_membership_is_unique_per_user_and_team():
    # given a member of a team
    team = factories.team_create()
    user = factories.user_create(team=team)
    # when the same membership is inserted again
    # then the database refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=user, team=team)


def test_one_row_per_archive_member_in_a_batch():
    # given a photo of a batch
    team = factories.team_create()
    batch = factories.batch_create(
        ad=factories.ad_create(campaign=factories.campaign_create(team=team))
    )
    image = factories.image_create(batch=batch)
    # when the same archive member is recorded again
    # then the database refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        type(image).objects.create(batch=batch, original_name=image.original_name, sha256="0" * 64)
