from rest_framework import serializers

from accounts.models import User


class SignupSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    email = serializers.EmailField()
    password = serializers.CharField(write_only=True, max_length=128, style={"input_type": "password"})


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class WebsocketTicketSerializer(serializers.Serializer):
    ticket = serializers.CharField(help_text="Single use, valid for 60 seconds: /ws/...?ticket=<ticket>")


class MeSerializer(serializers.ModelSerializer):
    roles = serializers.ListField(child=serializers.ChoiceField(["fan", "host", "organizer"]))
    language = serializers.ChoiceField(User.Language.values)
    email_verified = serializers.BooleanField()

    class Meta:
        model = User
        fields = ["id", "username", "email", "roles", "language", "email_verified"]


class LanguageSerializer(serializers.Serializer):
    language = serializers.ChoiceField(User.Language.values)


class VerifyTokenSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=500)
