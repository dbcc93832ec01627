from rest_framework.routers import SimpleRouter

from streams import apis

router = SimpleRouter()
router.register("streams", apis.StreamViewSet, basename="stream")

urlpatterns = router.urls
