# Duplicates part of issue 3: blocking keys on accounts and contacts, the review queue, merges and undo.
import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_import")]

    operations = [
        migrations.CreateModel(
            name='DuplicateCandidate',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('record_type', models.CharField(choices=[('contact', 'Contacts'), ('account', 'Accounts')], max_length=10, verbose_name='type')),
                ('low_id', models.BigIntegerField()),
                ('high_id', models.BigIntegerField()),
                ('score', models.PositiveSmallIntegerField(validators=[django.core.validators.MaxValueValidator(100)], verbose_name='score')),
                ('reasons', models.JSONField(blank=True, default=list, verbose_name='reasons')),
                ('status', models.CharField(choices=[('open', 'To review'), ('dismissed', 'Not a duplicate'), ('merged', 'Merged')], default='open', max_length=10, verbose_name='status')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='found at')),
                ('resolved_at', models.DateTimeField(blank=True, null=True, verbose_name='resolved at')),
            ],
            options={
                'verbose_name': 'possible duplicate',
                'verbose_name_plural': 'possible duplicates',
                'ordering': ('-id',),
            },
        ),
        migrations.CreateModel(
            name='Merge',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True, db_index=True, verbose_name='created at')),
                ('updated_at', models.DateTimeField(auto_now=True, db_index=True, verbose_name='updated at')),
                ('record_type', models.CharField(choices=[('contact', 'Contacts'), ('account', 'Accounts')], max_length=10, verbose_name='type')),
                ('survivor_id', models.BigIntegerField(verbose_name='kept record')),
                ('loser_ids', models.JSONField(default=list, verbose_name='merged records')),
                ('fields', models.JSONField(blank=True, default=dict, verbose_name='chosen values')),
                ('survivor_before', models.JSONField(blank=True, default=dict)),
                ('survivor_version', models.PositiveIntegerField(default=0)),
                ('versions_before', models.JSONField(blank=True, default=dict)),
                ('journal', models.JSONField(blank=True, default=dict)),
                ('status', models.CharField(choices=[('done', 'Merged'), ('undone', 'Undone')], default='done', max_length=10, verbose_name='status')),
                ('undone_at', models.DateTimeField(blank=True, null=True, verbose_name='undone at')),
            ],
            options={
                'verbose_name': 'merge',
                'verbose_name_plural': 'merges',
                'ordering': ('-id',),
            },
        ),
        migrations.CreateModel(
            name='MergedRecord',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('record_type', models.CharField(choices=[('contact', 'Contacts'), ('account', 'Accounts')], max_length=10)),
                ('record_id', models.BigIntegerField()),
                ('is_survivor', models.BooleanField(default=False)),
            ],
            options={
                'verbose_name': 'merged record',
                'verbose_name_plural': 'merged records',
            },
        ),
        migrations.AddField(
            model_name='account',
            name='dup_key',
            field=models.CharField(blank=True, db_default='', default='', editable=False, max_length=100),
        ),
        migrations.AddField(
            model_name='contact',
            name='dup_key',
            field=models.CharField(blank=True, db_default='', default='', editable=False, max_length=100),
        ),
        migrations.AddIndex(
            model_name='account',
            index=models.Index(fields=['dup_key'], name='account_dup_key_idx'),
        ),
        migrations.AddIndex(
            model_name='contact',
            index=models.Index(fields=['dup_key'], name='contact_dup_key_idx'),
        ),
        migrations.AddField(
            model_name='duplicatecandidate',
            name='resolved_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='merge',
            name='undone_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='undone by'),
        ),
        migrations.AddField(
            model_name='merge',
            name='user',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='merged by'),
        ),
        migrations.AddField(
            model_name='duplicatecandidate',
            name='merge',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='candidates', to='customers.merge'),
        ),
        migrations.AddField(
            model_name='mergedrecord',
            name='merge',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='records', to='customers.merge'),
        ),
        migrations.AddIndex(
            model_name='merge',
            index=models.Index(fields=['record_type', 'survivor_id'], name='merge_survivor_idx'),
        ),
        migrations.AddIndex(
            model_name='duplicatecandidate',
            index=models.Index(fields=['record_type', 'status', '-id'], name='duplicate_queue_idx'),
        ),
        migrations.AddIndex(
            model_name='duplicatecandidate',
            index=models.Index(fields=['record_type', 'high_id'], name='duplicate_high_idx'),
        ),
        migrations.AddConstraint(
            model_name='duplicatecandidate',
            constraint=models.UniqueConstraint(fields=('record_type', 'low_id', 'high_id'), name='duplicate_unique_pair'),
        ),
        migrations.AddConstraint(
            model_name='duplicatecandidate',
            constraint=models.CheckConstraint(condition=models.Q(('low_id__lt', models.F('high_id'))), name='duplicate_low_first'),
        ),
        migrations.AddIndex(
            model_name='mergedrecord',
            index=models.Index(fields=['record_type', 'record_id'], name='mergedrecord_record_idx'),
        ),
    ]
