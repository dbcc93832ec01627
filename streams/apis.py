from rest_framework import viewsets

from streams import selectors
from streams.serializers import StreamSerializer


class StreamViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = StreamSerializer

    def get_queryset(self):
        return selectors.stream_list(user=self.request.user)
