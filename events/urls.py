from rest_framework.routers import SimpleRouter

from events import apis

router = SimpleRouter()
router.register("cities", apis.CityViewSet, basename="city")
router.register("venues", apis.VenueViewSet, basename="venue")
router.register("series", apis.SeriesViewSet, basename="series")
router.register("sessions", apis.SessionViewSet, basename="session")

urlpatterns = router.urls
