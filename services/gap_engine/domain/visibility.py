"""What a signed-in person may see of the organisation's people on the dashboards.

Admins and analysts see the whole organisation. A manager sees the teams of the employees who report
to them (employees.manager_hris_id = the manager's hris_id): those teams' aggregate reports, and their
own reports (direct reports) one by one. The narrowing is a condition on the queries (org AND team, or
org AND manager), so a page cannot show what the query never read; a team or person outside it is a
404, as if it did not exist."""

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.db.tables import Employee
from shared.errors import NotFound


@dataclass(frozen=True, slots=True)
class TeamRow:
    team: str
    department: str | None
    headcount: int


@dataclass(frozen=True, slots=True)
class Visibility:
    org_id: uuid.UUID
    # None: the whole organisation; else the manager's hris_id (a manager without one sees nobody).
    manager: str | None
    teams: frozenset[str] | None

    @property
    def whole_organisation(self) -> bool:
        return self.teams is None

    def people(self) -> ColumnElement[bool]:
        """Employees this person may see one by one: the organisation's, or a manager's direct reports."""
        if self.whole_organisation:
            return Employee.org_id == self.org_id
        return and_(Employee.org_id == self.org_id, Employee.manager_hris_id == (self.manager or ""))

    def check_team(self, team: str) -> None:
        if self.teams is not None and team not in self.teams:
            raise NotFound(f"No team {team!r} among the teams you manage.")


async def visibility_for(session: AsyncSession, org_id: uuid.UUID, role: str, hris_id: str | None) -> Visibility:
    if role != "manager":
        return Visibility(org_id, None, None)
    teams: frozenset[str] = frozenset()
    if hris_id:
        rows = await session.scalars(
            select(Employee.team)
            .where(Employee.org_id == org_id, Employee.manager_hris_id == hris_id, Employee.team.is_not(None))
            .distinct()
        )
        teams = frozenset(str(team) for team in rows)
    return Visibility(org_id, hris_id or "", teams)


async def visible_teams(session: AsyncSession, visibility: Visibility) -> list[TeamRow]:
    """Every team with its department and headcount (a team in several departments is listed once per
    department), narrowed to a manager's teams."""
    where = [Employee.org_id == visibility.org_id, Employee.team.is_not(None)]
    if visibility.teams is not None:
        where.append(Employee.team.in_(sorted(visibility.teams)))
    rows = await session.execute(
        select(Employee.team, Employee.department, func.count())
        .where(*where)
        .group_by(Employee.team, Employee.department)
        .order_by(Employee.team, Employee.department)
    )
    return [TeamRow(team, department, int(count)) for team, department, count in rows]


async def visible_employee(session: AsyncSession, visibility: Visibility, hris_id: str) -> Employee:
    employee = await session.scalar(select(Employee).where(visibility.people(), Employee.hris_id == hris_id))
    if employee is None:
        raise NotFound(f"No employee {hris_id!r} among the people you may see.")
    return employee
