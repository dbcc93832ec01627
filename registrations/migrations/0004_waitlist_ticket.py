from django.db import migrations


class Migration(migrations.Migration):
    """The waitlist position column becomes a ticket: a number kept while the party waits (positions
    are counted when read). Existing positions are valid tickets (unique, from 1 up)."""

    dependencies = [("registrations", "0003_translated_labels")]

    operations = [
        migrations.RemoveConstraint(model_name="registration", name="registration_unique_waitlist_position"),
        migrations.RemoveConstraint(model_name="registration", name="registration_waitlist_position_iff_waitlisted"),
        migrations.RemoveIndex(model_name="registration", name="registratio_session_f936e4_idx"),
        migrations.RenameField(model_name="registration", old_name="waitlist_position", new_name="waitlist_ticket"),
    ]
