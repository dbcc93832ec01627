from rest_framework import serializers

from notices.models import Notice, OrganizerMessage

MAX_ID = 2**63 - 1
MESSAGE_STATUSES = ["queued", "sending", "sent"]


def _id(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class MessageRequestSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=10_000)
    audience = serializers.ChoiceField(choices=OrganizerMessage.Audience.choices)
    session = _id(required=False, allow_null=True, help_text="One session; or series and/or city.")
    series = _id(required=False, allow_null=True, help_text="Every session of the series (not cancelled ones).")
    city = _id(required=False, allow_null=True, help_text="The sessions in this city (of the series, if given).")


class MessagePreviewSerializer(serializers.Serializer):
    recipients = serializers.IntegerField(help_text="Fans the message would reach, each counted once.")


class MessageAcceptedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    recipients = serializers.IntegerField()
    status = serializers.ChoiceField(choices=MESSAGE_STATUSES)


class MessageProgressSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    recipients = serializers.IntegerField()
    queued = serializers.IntegerField(help_text="Not delivered yet (waiting or being sent).")
    sent = serializers.IntegerField()
    failed = serializers.IntegerField(help_text="Last attempt failed; kept and retried with backoff.")
    skipped = serializers.IntegerField(help_text="Not emailed: no address, or organizer emails turned off.")
    status = serializers.ChoiceField(choices=MESSAGE_STATUSES)


class MessageRecipientSerializer(serializers.ModelSerializer):
    fan = serializers.IntegerField(source="recipient_id")
    username = serializers.CharField(source="recipient.username")

    class Meta:
        model = Notice
        fields = ["fan", "username", "email", "delivery", "attempts", "sent_at", "last_error", "read_at"]


class NoticeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notice
        fields = ["id", "kind", "subject", "body", "session", "created_at", "read_at"]


class MarkReadSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=_id(), required=False, max_length=1000, help_text="Notices to mark read; none: all."
    )


class PreferencesSerializer(serializers.Serializer):
    email_reminders = serializers.BooleanField(required=False)
    email_messages = serializers.BooleanField(required=False)
