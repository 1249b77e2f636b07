import { render } from 'preact';
import '../common/page.css';
import { Onboarding } from './Onboarding.js';

render(<Onboarding />, document.getElementById('app')!);
