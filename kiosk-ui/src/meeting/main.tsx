import { boot } from '../shared/boot.js';
import { MeetingApp } from './App.js';

// Meeting documents are shown, not handed out: no printing, saving or context menu on the terminal.
window.addEventListener('keydown', (e) => {
  if ((e.ctrlKey || e.metaKey) && ['p', 's'].includes(e.key.toLowerCase())) e.preventDefault();
});
window.addEventListener('contextmenu', (e) => e.preventDefault());

boot('meeting', MeetingApp);
