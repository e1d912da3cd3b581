"""The footer: the keys of the actions that apply where the focus is (the app's
``check_action`` hides the others), and when they do not all fit, the most important ones
(``Action.rank``) — so Help and Quit never fall off an 80-column terminal."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from sessions.tui.bindings import BY_ID

OTHER_RANK = 4  # bindings of dialogs and widgets: after the app's most important ones


def rank(binding: Binding) -> int:
    action = BY_ID.get(binding.id or "")
    return action.rank if action is not None else OTHER_RANK


class KeyFooter(Footer):
    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        active = self.screen.active_bindings
        palette_key = self.app.COMMAND_PALETTE_BINDING
        entries: dict[str, tuple[Binding, bool, str]] = {}  # one per action, first key wins
        for key, (_, binding, enabled, tooltip) in active.items():
            if binding.show and key != palette_key:
                entries.setdefault(binding.action, (binding, enabled, tooltip))
        palette = active.get(palette_key) if self.show_command_palette else None
        room = (self.size.width or self.app.size.width) - (
            self._cost(palette.binding) + 1 if palette is not None else 0
        )
        kept: set[str] = set()
        for action, (binding, _, _) in sorted(entries.items(), key=lambda e: rank(e[1][0])):
            cost = self._cost(binding)
            if cost > room:
                break  # the rest are less important: none shows rather than a random few
            kept.add(action)
            room -= cost
        for action, (binding, enabled, tooltip) in entries.items():
            if action in kept:
                yield FooterKey(
                    binding.key,
                    self.app.get_key_display(binding),
                    binding.description,
                    binding.action,
                    disabled=not enabled,
                    tooltip=tooltip,
                ).data_bind(compact=Footer.compact)
        if palette is not None and self.app.ENABLE_COMMAND_PALETTE:
            yield FooterKey(
                palette.binding.key,
                self.app.get_key_display(palette.binding),
                palette.binding.description,
                palette.binding.action,
                classes="-command-palette",
                disabled=not palette.enabled,
                tooltip=palette.binding.tooltip or palette.binding.description,
            )

    def _cost(self, binding: Binding) -> int:
        """Cells one key takes: the key, a space, the description and the padding around."""
        text = len(self.app.get_key_display(binding)) + 1 + len(binding.description)
        return text + (1 if self.compact else 2)

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != getattr(self, "_laid_out_for", None):
            self._laid_out_for = event.size.width
            self.call_after_refresh(self.recompose)
