export { FrameError } from './protocols/errors.js';
