import { render } from 'preact';
import '../common/page.css';
import { Popup } from './Popup.js';

render(<Popup />, document.getElementById('app')!);
