"""The REST API's views: parse and check the request, call a service or a selector, serialise.

Every object is fetched through `api.selectors` (the team-scoped selectors of the app,
narrowed to the token's team), so another team's object is a 404 and its rows never appear
in a list; every write is one call of the same service the pages call.
"""

from __future__ import annotations

from typing import Any, NoReturn

from csp.constants import SELF
from csp.decorators import csp_update
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularRedocView
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, ParseError, Throttled
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from analytics import exports
from analytics.results import campaign_results
from analytics.selectors import dashboards
from api import selectors
from api.exceptions import Conflict, PayloadTooLarge, invalid
from api.filters import (
    ExportQuerySerializer,
    FilterQuerySerializer,
    ResultsQuerySerializer,
    request_filters,
)
from api.models import ApiToken
from api.pagination import IdCursorPagination
from api.serializers import (
    AdSerializer,
    ArchiveUploadSerializer,
    BatchDetailSerializer,
    BatchSerializer,
    CampaignCreateSerializer,
    CampaignSerializer,
    ErrorSerializer,
    FaceSerializer,
    FilesUploadSerializer,
    ModelVersionSerializer,
    ResultsSerializer,
    TeamSerializer,
)
from campaigns.models import Ad, Campaign, Face, Team, UploadBatch
from campaigns.selectors import batches, scoping
from campaigns.services import batches as batch_services
from campaigns.services import teams as team_services
from inference.models import ModelVersion
from inference.selectors import model_version_active

# A service refuses a name already used in the team (campaign) or campaign (ad) with a
# ValidationError on this field: that is a conflict with existing data, not bad input.
_CONFLICT_FIELDS = frozenset({"name"})


def _refusal(exc: DjangoValidationError, *, with_stored: bool = False) -> Exception:
    """A service's refusal as a 400 (bad input) or a 409: a name already taken, or a value
    refused only together with a stored one (`with_stored`: a PATCH of one of two dates)."""
    if with_stored or (hasattr(exc, "error_dict") and _CONFLICT_FIELDS & set(exc.error_dict)):
        return Conflict(" ".join(exc.messages))
    return invalid(exc)


class CsvRenderer(BaseRenderer):
    """Lets `Accept: text/csv` through content negotiation; the views stream the file."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return JSONRenderer().render(data)


class ApiView(generics.GenericAPIView):
    """What every API view shares: its token, JSON errors whatever was asked, one value per
    query parameter, and a 429 that says the limit."""

    @property
    def token(self) -> ApiToken | None:
        auth = self.request.auth
        return auth if isinstance(auth, ApiToken) else None

    @property
    def user(self) -> User:
        user = self.request.user
        assert isinstance(user, User)  # noqa: S101  narrows the type for mypy
        return user

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        repeated = [key for key, values in request.query_params.lists() if len(values) > 1]
        if repeated:
            raise ParseError(f"Give each query parameter once ({', '.join(repeated)}).")

    def throttled(self, request: Request, wait: float) -> NoReturn:
        raise Throttled(
            wait,
            detail=f"Too many requests: the limit is {settings.API_RATE_LIMIT} per token "
            "(or browser session).",
        )

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        # Views also return a streamed CSV (an HttpResponse): only DRF's own are re-rendered.
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


def _errors(*codes: int) -> dict[tuple[int, str], OpenApiResponse]:
    """Error responses for the schema: always JSON, whatever the operation answers."""
    return {
        (code, "application/json"): OpenApiResponse(ErrorSerializer, description=_ERROR_WORDS[code])
        for code in codes
    }


_ERROR_WORDS = {
    400: "Invalid input; `errors` names each field and its reasons.",
    404: "No such object in your team (another team's object is not found either).",
    409: "The data's state refuses it: a name already taken, an upload still being analysed, "
    "no active model.",
    413: "The upload is larger than UPLOAD_MAX_BYTES.",
}


# Teams ---------------------------------------------------------------------------------------


class TeamList(ApiView, generics.ListAPIView):
    """The teams this request reaches: the token's team, or every team of the session's user."""

    serializer_class = TeamSerializer
    pagination_class = IdCursorPagination

    def get_queryset(self) -> QuerySet[Team]:
        return selectors.request_teams(user=self.user, token=self.token)


# Campaigns -----------------------------------------------------------------------------------


@extend_schema_view(
    post=extend_schema(
        request=CampaignCreateSerializer,
        responses={201: CampaignSerializer, **_errors(400, 404, 409)},
    )
)
class CampaignList(ApiView, generics.ListCreateAPIView):
    """The team's campaigns; POST creates one."""

    serializer_class = CampaignSerializer
    pagination_class = IdCursorPagination
    parser_classes = [JSONParser]

    def get_queryset(self) -> QuerySet[Campaign]:
        return selectors.campaign_list(user=self.user, token=self.token)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = CampaignCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        team = self._team(data.pop("team_id", None))
        try:
            campaign = team_services.campaign_create(team=team, created_by=self.user, **data)
        except DjangoValidationError as exc:
            raise _refusal(exc) from exc
        return Response(self.get_serializer(campaign).data, status=status.HTTP_201_CREATED)

    def _team(self, team_id: int | None) -> Team:
        teams = selectors.request_teams(user=self.user, token=self.token)
        if team_id is not None:
            team = teams.filter(pk=team_id).first()
            if team is None:
                raise NotFound(f"Team {team_id} is not one of yours.")
            return team
        if self.token is not None:
            return self.token.team
        found = list(teams[:2])
        if len(found) != 1:
            raise invalid(
                DjangoValidationError(
                    {
                        "team": "Name the team: you are in several."
                        if found
                        else "You are in no team."
                    }
                )
            )
        return found[0]


@extend_schema_view(
    get=extend_schema(responses={200: CampaignSerializer, **_errors(404)}),
    put=extend_schema(responses={200: CampaignSerializer, **_errors(400, 404, 409)}),
    patch=extend_schema(responses={200: CampaignSerializer, **_errors(400, 404, 409)}),
    delete=extend_schema(responses={204: None, **_errors(404, 409)}),
)
class CampaignDetail(ApiView, generics.RetrieveUpdateDestroyAPIView):
    """One campaign. DELETE deletes it with its ads and every upload and result (refused
    while one of its uploads is being analysed)."""

    serializer_class = CampaignSerializer
    parser_classes = [JSONParser]

    def get_object(self) -> Campaign:
        return selectors.campaign_get(
            user=self.user, token=self.token, campaign_id=self.kwargs["pk"]
        )

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        campaign = self.get_object()
        partial = kwargs.get("partial", False)
        serializer = self.get_serializer(campaign, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # PUT sends every field (missing ones take their defaults); PATCH changes those sent.
        fields = {
            name: data[name] if name in data else getattr(campaign, name)
            for name in ("name", "brand", "description", "starts_on", "ends_on")
        }
        try:
            campaign = team_services.campaign_update(campaign=campaign, **fields)
        except DjangoValidationError as exc:
            one_date = partial and len({"starts_on", "ends_on"} & set(data)) == 1
            raise _refusal(exc, with_stored=one_date) from exc
        return Response(self.get_serializer(campaign).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        campaign = self.get_object()
        try:
            team_services.campaign_delete(campaign=campaign)
        except DjangoValidationError as exc:
            raise Conflict(" ".join(exc.messages)) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


# Ads -----------------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(responses={200: AdSerializer(many=True), **_errors(404)}),
    post=extend_schema(responses={201: AdSerializer, **_errors(400, 404, 409)}),
)
class CampaignAdList(ApiView, generics.ListCreateAPIView):
    """The campaign's ads; POST creates one."""

    serializer_class = AdSerializer
    pagination_class = IdCursorPagination
    parser_classes = [JSONParser]

    def campaign(self) -> Campaign:
        return selectors.campaign_get(
            user=self.user, token=self.token, campaign_id=self.kwargs["pk"]
        )

    def get_queryset(self) -> QuerySet[Ad]:
        return scoping.ad_list(campaign=self.campaign())

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        campaign = self.campaign()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            ad = team_services.ad_create(campaign=campaign, **serializer.validated_data)
        except DjangoValidationError as exc:
            raise _refusal(exc) from exc
        return Response(self.get_serializer(ad).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(responses={200: AdSerializer, **_errors(404)}),
    put=extend_schema(responses={200: AdSerializer, **_errors(400, 404, 409)}),
    patch=extend_schema(responses={200: AdSerializer, **_errors(400, 404, 409)}),
    delete=extend_schema(responses={204: None, **_errors(404, 409)}),
)
class AdDetail(ApiView, generics.RetrieveUpdateDestroyAPIView):
    """One ad. DELETE deletes it with its uploads and results (refused while one of its
    uploads is being analysed)."""

    serializer_class = AdSerializer
    parser_classes = [JSONParser]

    def get_object(self) -> Ad:
        return selectors.ad_get(user=self.user, token=self.token, ad_id=self.kwargs["pk"])

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ad = self.get_object()
        partial = kwargs.get("partial", False)
        serializer = self.get_serializer(ad, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # PUT sends every field (a missing link is none); PATCH changes those sent.
        try:
            ad = team_services.ad_update(
                ad=ad,
                name=data.get("name", ad.name),
                creative_url=data.get("creative_url", ad.creative_url if partial else ""),
                duration_seconds=data.get("duration_seconds", ad.duration_seconds),
            )
        except DjangoValidationError as exc:
            raise _refusal(exc) from exc
        return Response(self.get_serializer(ad).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ad = self.get_object()
        try:
            team_services.ad_delete(ad=ad)
        except DjangoValidationError as exc:
            raise Conflict(" ".join(exc.messages)) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


# Uploads and batches -------------------------------------------------------------------------


def batch_detail(batch: UploadBatch, *, context: dict[str, Any]) -> BatchDetailSerializer:
    """The batch with its live progress and the members it could not use."""
    progress = batches.batch_progress(batch=batch)
    progress["queued"] = batch_services.batch_is_queued(batch)
    problems = list(batches.batch_problem_images(batch=batch)[:500])
    return BatchDetailSerializer(
        batch, context={**context, "progress": progress, "problems": problems}
    )


class _Upload(ApiView):
    parser_classes = [MultiPartParser]

    def ad(self) -> Ad:
        return selectors.ad_get(user=self.user, token=self.token, ad_id=self.kwargs["pk"])

    def upload(self, request: Request, serializer_class: type[BaseSerializer[Any]]) -> Response:
        ad = self.ad()
        # Refused before the body is read, as the upload page does.
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.UPLOAD_MAX_BYTES:
            raise PayloadTooLarge(
                f"The upload is larger than the {settings.UPLOAD_MAX_BYTES // 1024**2:,} MiB limit."
            )
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if model_version_active() is None:
            # The service refuses it too; a 409 says that the request itself was fine.
            raise Conflict(
                "No model version is active, so photos cannot be analysed yet; an "
                "administrator must register and activate one first."
            )
        try:
            if "archive" in data:
                archive = data["archive"]
                batch = batch_services.batch_create(
                    ad=ad, upload=archive, source_name=archive.name or "upload.zip", user=self.user
                )
            else:
                batch = batch_services.batch_create_from_files(
                    ad=ad, files=data["files"], manifest=data.get("manifest"), user=self.user
                )
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        body = batch_detail(batch, context=self.get_serializer_context())
        return Response(body.data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(responses={200: BatchSerializer(many=True), **_errors(404)}),
    post=extend_schema(
        request={"multipart/form-data": ArchiveUploadSerializer},
        responses={201: BatchDetailSerializer, **_errors(400, 404, 409, 413)},
    ),
)
class AdUploadList(_Upload, generics.ListAPIView):
    """The ad's uploads (batches), oldest first. POST uploads one ZIP (multipart, streamed to
    storage) and answers the new batch, which workers then unpack and analyse: poll its
    `urls.self` until `finished`."""

    pagination_class = IdCursorPagination

    def get_serializer_class(self) -> type[BaseSerializer[Any]]:
        return ArchiveUploadSerializer if self.request.method == "POST" else BatchSerializer

    def get_queryset(self) -> QuerySet[UploadBatch]:
        return batches.batch_list(ad=self.ad())

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.upload(request, ArchiveUploadSerializer)


@extend_schema_view(
    post=extend_schema(
        request={"multipart/form-data": FilesUploadSerializer},
        responses={201: BatchDetailSerializer, **_errors(400, 404, 409, 413)},
    ),
)
class AdFilesUpload(_Upload):
    """Loose photos and reaction videos, with an optional manifest, as one upload (they are
    packed into a ZIP as the upload page does); answers the new batch."""

    serializer_class = FilesUploadSerializer

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.upload(request, FilesUploadSerializer)


@extend_schema_view(
    get=extend_schema(responses={200: BatchDetailSerializer, **_errors(404)}),
    delete=extend_schema(responses={204: None, **_errors(404, 409)}),
)
class BatchDetail(ApiView, generics.RetrieveDestroyAPIView):
    """One upload: its status, live progress and the members it could not use, each with
    its reason. DELETE deletes it with its photos, videos and results (refused while it is
    being analysed)."""

    serializer_class = BatchDetailSerializer

    def get_object(self) -> UploadBatch:
        return selectors.batch_get(user=self.user, token=self.token, batch_id=self.kwargs["pk"])

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        batch = self.get_object()
        return Response(batch_detail(batch, context=self.get_serializer_context()).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        batch = self.get_object()
        try:
            batch_services.batch_delete(batch=batch)
        except DjangoValidationError as exc:
            raise Conflict(" ".join(exc.messages)) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


# Faces ---------------------------------------------------------------------------------------


class _FaceList(ApiView, generics.ListAPIView):
    serializer_class = FaceSerializer
    pagination_class = IdCursorPagination

    def faces(self, **scope: object) -> QuerySet[Face]:
        found = request_filters(
            query=self.request.query_params.dict(),
            serializer=FilterQuerySerializer,
        )
        return dashboards.face_queryset(filters=self.shown(found.filters), **scope).select_related(
            "image__batch", "image__viewer"
        )

    def shown(self, filters: dashboards.DashboardFilters) -> dashboards.DashboardFilters:
        raise NotImplementedError


@extend_schema_view(
    get=extend_schema(
        parameters=[FilterQuerySerializer],
        responses={200: FaceSerializer(many=True), **_errors(400, 404)},
    )
)
class CampaignFaces(_FaceList):
    """The campaign's faces, oldest first, filtered as the dashboard filters them (each ad
    its shown model version's faces); follow `next` for the following page."""

    def get_queryset(self) -> QuerySet[Face]:
        self.campaign = selectors.campaign_get(
            user=self.user, token=self.token, campaign_id=self.kwargs["pk"]
        )
        return self.faces(ad__campaign=self.campaign)

    def shown(self, filters: dashboards.DashboardFilters) -> dashboards.DashboardFilters:
        return dashboards.with_ad_versions(
            filters, ad_ids=list(self.campaign.ads.values_list("pk", flat=True))
        )


@extend_schema_view(
    get=extend_schema(
        parameters=[FilterQuerySerializer],
        responses={200: FaceSerializer(many=True), **_errors(400, 404)},
    )
)
class AdFaces(_FaceList):
    """The ad's faces, oldest first, filtered as the ad's page filters them (its shown model
    version's faces unless one is chosen); follow `next` for the following page."""

    def get_queryset(self) -> QuerySet[Face]:
        self.ad_row = selectors.ad_get(user=self.user, token=self.token, ad_id=self.kwargs["pk"])
        return self.faces(ad=self.ad_row)

    def shown(self, filters: dashboards.DashboardFilters) -> dashboards.DashboardFilters:
        return dashboards.for_one_ad(filters, ad_id=self.ad_row.pk)


# Results and exports -------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(
        parameters=[ResultsQuerySerializer], responses={200: ResultsSerializer, **_errors(400, 404)}
    )
)
class CampaignResults(ApiView):
    """The campaign dashboard's figures, from the same code as the page: the verdict (ads
    ranked by the headline, each against the best, Holm-corrected), each ad's emotion mix
    with 95% intervals, the timeline and its key moments, segments, team norms, the model
    version each ad shows and the minimum confidence's effect."""

    serializer_class = ResultsSerializer

    def get(self, request: Request, pk: int) -> Response:
        campaign = selectors.campaign_get(user=self.user, token=self.token, campaign_id=pk)
        found = request_filters(
            query=request.query_params.dict(), serializer=ResultsQuerySerializer
        )
        results = campaign_results(
            campaign=campaign,
            filters=found.filters,
            headline=found.headline,
            breakdown=found.breakdown,
        )
        return Response(self.get_serializer(results).data)


class _Export(ApiView):
    renderer_classes = [CsvRenderer, JSONRenderer]
    # For the schema only: the body is a CSV file.
    serializer_class = ExportQuerySerializer

    def export(self, *, campaign: Campaign, ad: Ad | None, stem: str) -> StreamingHttpResponse:
        found = request_filters(
            query=self.request.query_params.dict(),
            serializer=ExportQuerySerializer,
        )
        ad_ids = [ad.pk] if ad is not None else list(campaign.ads.values_list("pk", flat=True))
        filters = dashboards.with_ad_versions(found.filters, ad_ids=ad_ids)
        return exports.export_response(
            level=found.query["level"],
            campaign=campaign,
            filters=filters,
            stem=stem,
            bom=found.query["bom"],
            ad=ad,
            bin_seconds=found.query["bin_seconds"],
            dialect=found.query["dialect"],
        )


_CSV = {(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV file, streamed.")}


@extend_schema_view(
    get=extend_schema(parameters=[ExportQuerySerializer], responses={**_CSV, **_errors(400, 404)})
)
class CampaignExport(_Export):
    """The campaign's CSV export (faces, per-ad summary, timeline or viewers), streamed, with
    the dashboard's filters: the same file as the dashboard's export links."""

    def get(self, request: Request, pk: int) -> StreamingHttpResponse:
        campaign = selectors.campaign_get(user=self.user, token=self.token, campaign_id=pk)
        return self.export(campaign=campaign, ad=None, stem=campaign.name)


@extend_schema_view(
    get=extend_schema(parameters=[ExportQuerySerializer], responses={**_CSV, **_errors(400, 404)})
)
class AdExport(_Export):
    """One ad's CSV export, streamed, with the dashboard's filters."""

    def get(self, request: Request, pk: int) -> StreamingHttpResponse:
        ad = selectors.ad_get(user=self.user, token=self.token, ad_id=pk)
        return self.export(campaign=ad.campaign, ad=ad, stem=f"{ad.campaign.name}-{ad.name}")


# Model versions ------------------------------------------------------------------------------


class ModelVersionList(ApiView, generics.ListAPIView):
    """Every registered model version (the classifier that labelled each face)."""

    serializer_class = ModelVersionSerializer
    pagination_class = IdCursorPagination

    def get_queryset(self) -> QuerySet[ModelVersion]:
        return selectors.model_version_list()


@extend_schema_view(get=extend_schema(responses={200: ModelVersionSerializer, **_errors(404)}))
class ModelVersionDetail(ApiView, generics.RetrieveAPIView):
    serializer_class = ModelVersionSerializer

    def get_queryset(self) -> QuerySet[ModelVersion]:
        return selectors.model_version_list()


@method_decorator(csp_update({"worker-src": [SELF, "blob:"]}), name="dispatch")
class RedocView(SpectacularRedocView):
    """Redoc from drf-spectacular-sidecar; its search runs in a Web Worker made from a blob:
    URL, which this page's policy allows (the site's policy is otherwise unchanged)."""

    template_name = "api/redoc.html"


@csrf_exempt
def not_found(request: HttpRequest) -> JsonResponse:
    """Any other URL under /api/: a JSON 404 that points at the documentation."""
    return JsonResponse(
        {"detail": f"No API endpoint at {request.path}; the endpoints are listed at /api/docs/."},
        status=404,
    )
