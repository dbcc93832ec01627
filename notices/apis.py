from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from notices import services


class FollowSerializer(serializers.Serializer):
    following = serializers.BooleanField()


class StreamFollowApi(APIView):
    """Follow a livestream: "starting now" when its hosts set it live (also without a registration)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=None,
        responses={200: FollowSerializer, 201: FollowSerializer, 404: OpenApiResponse(description="not_found")},
        summary="Follow a livestream (idempotent)",
    )
    def post(self, request, pk: int):
        created = services.stream_follow(user=request.user, stream_id=pk)
        return Response({"following": True}, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=None, responses={204: None}, summary="Stop following a livestream")
    def delete(self, request, pk: int):
        services.stream_unfollow(user=request.user, stream_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
