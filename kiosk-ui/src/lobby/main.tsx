import { boot } from '../shared/boot.js';
import { LobbyApp } from './App.js';

boot('lobby', LobbyApp);
