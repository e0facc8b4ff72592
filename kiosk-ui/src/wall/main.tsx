import { boot } from '../shared/boot.js';
import { WallApp } from './App.js';

boot('wall', WallApp);
