"""The weekly review's action items become tasks on their risk records (source
``review``, pointing at their agenda item). Every row moves with its id, so
the timeline events that name an action still name the same commitment;
owner, department, due date, done state, author and time move unchanged. An
action longer than a task title keeps its whole text as the description."""

from django.core.management.color import no_style
from django.db import migrations

TITLE_LIMIT = 200
BATCH = 2000


def title_and_description(text):
    lines = text.strip().splitlines() or [""]
    first = " ".join(lines[0].split())
    if len(lines) == 1 and len(first) <= TITLE_LIMIT and first == text.strip():
        return first, ""
    title = first if len(first) <= TITLE_LIMIT else first[: TITLE_LIMIT - 1].rstrip() + "\u2026"
    return title or "Action item", text.strip()


def forward(apps, schema_editor):
    ActionItem = apps.get_model("reviews", "ActionItem")
    Task = apps.get_model("risks", "Task")
    batch = []
    actions = ActionItem.objects.select_related("item").order_by("pk")
    for action in actions.iterator(chunk_size=BATCH):
        title, description = title_and_description(action.description)
        batch.append(
            Task(
                pk=action.pk,
                risk_id=action.item.risk_id,
                title=title,
                description=description,
                owner_id=action.owner_id,
                department=action.department,
                due_date=action.due_date,
                done_at=action.done_at if action.done else None,
                source="review",
                agenda_item_id=action.item_id,
                created_by_id=action.created_by_id,
                created_at=action.created_at,
            )
        )
        if len(batch) >= BATCH:
            Task.objects.bulk_create(batch)
            batch = []
    if batch:
        Task.objects.bulk_create(batch)
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), [Task]):
            cursor.execute(statement)


def backward(apps, schema_editor):
    ActionItem = apps.get_model("reviews", "ActionItem")
    Task = apps.get_model("risks", "Task")
    tasks = Task.objects.filter(source="review", agenda_item__isnull=False).order_by("pk")
    ActionItem.objects.bulk_create(
        [
            ActionItem(
                pk=task.pk,
                item_id=task.agenda_item_id,
                description=task.description or task.title,
                owner_id=task.owner_id,
                department=task.department,
                due_date=task.due_date,
                done=task.done_at is not None,
                done_at=task.done_at,
                created_by_id=task.created_by_id,
                created_at=task.created_at,
            )
            for task in tasks
        ],
        batch_size=BATCH,
    )
    tasks.delete()
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), [ActionItem]):
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0004_move_outbound_email_to_notifications"),
        ("risks", "0008_playbooks_and_tasks"),
    ]

    operations = [migrations.RunPython(forward, backward)]
